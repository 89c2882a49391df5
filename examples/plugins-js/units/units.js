// The `units` plugin: each function exported here is a node callers reach as
// `units/FUNCTION`; the signatures and docs are in wit/world.wit (WIT names
// are kebab-case, JavaScript's camelCase: `celsius-to-fahrenheit` is
// `celsiusToFahrenheit`). A WIT `record` is a plain object, a
// `result<T, string>` is a return value or a thrown string.

// Each unit: its dimension, its name, and how to go to and from the
// dimension's base unit (metre, kilogram, kelvin).
const UNITS = {
  m: linear("length", "metre", 1),
  km: linear("length", "kilometre", 1000),
  cm: linear("length", "centimetre", 0.01),
  mi: linear("length", "mile", 1609.344),
  ft: linear("length", "foot", 0.3048),
  in: linear("length", "inch", 0.0254),
  kg: linear("mass", "kilogram", 1),
  g: linear("mass", "gram", 0.001),
  lb: linear("mass", "pound", 0.45359237),
  oz: linear("mass", "ounce", 0.028349523125),
  K: linear("temperature", "kelvin", 1),
  degC: {
    dimension: "temperature",
    name: "degree Celsius",
    toBase: (v) => v + 273.15,
    fromBase: (v) => v - 273.15,
  },
  degF: {
    dimension: "temperature",
    name: "degree Fahrenheit",
    toBase: (v) => ((v - 32) * 5) / 9 + 273.15,
    fromBase: (v) => ((v - 273.15) * 9) / 5 + 32,
  },
};

function linear(dimension, name, factor) {
  return { dimension, name, toBase: (v) => v * factor, fromBase: (v) => v / factor };
}

function lookup(symbol) {
  const unit = Object.hasOwn(UNITS, symbol) ? UNITS[symbol] : undefined;
  if (!unit) {
    throw `unknown unit \`${symbol}\`; the units are ${Object.keys(UNITS).join(", ")}`;
  }
  return unit;
}

export function units() {
  return Object.entries(UNITS).map(([symbol, u]) => `${symbol} (${u.name}, ${u.dimension})`);
}

export function convert(q, to) {
  const from = lookup(q.unit);
  const target = lookup(to);
  if (from.dimension !== target.dimension) {
    throw `cannot convert ${from.dimension} (${q.unit}) to ${target.dimension} (${to})`;
  }
  return { value: target.fromBase(from.toBase(q.value)), unit: to };
}

export function parse(text) {
  const match = /^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([A-Za-z]+)\s*$/.exec(text);
  if (!match) {
    throw `\`${text}\` is not a number followed by a unit, like \`3.5 km\``;
  }
  lookup(match[2]);
  return { value: Number(match[1]), unit: match[2] };
}

export function format(q, digits) {
  return `${q.value.toFixed(Math.min(digits, 100))} ${q.unit}`;
}

export function celsiusToFahrenheit(celsius) {
  return (celsius * 9) / 5 + 32;
}
