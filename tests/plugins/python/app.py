"""A Warden plugin written in Python (built with componentize-py)."""

import wit_world


class WitWorld(wit_world.WitWorld):
    def greet(self, name: str) -> str:
        return f"Hello, {name}, from Python!"

    def total(self, values: list[int]) -> int:
        return sum(values)
