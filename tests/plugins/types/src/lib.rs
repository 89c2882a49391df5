//! Echoes every WIT type, so tests can round-trip the value mapping.

warden_guest::define_plugin!({ world: "types", path: "wit" });

use exports::test::types::echo::{self, Color, Perms, Point, Shape};
use exports::test::types::handles::{self, Counter, GuestCounter};

struct Types;

type Deep = Vec<Option<Vec<(Point, Option<Shape>)>>>;

impl echo::Guest for Types {
    fn echo_bool(v: bool) -> bool { v }
    fn echo_s8(v: i8) -> i8 { v }
    fn echo_u8(v: u8) -> u8 { v }
    fn echo_s16(v: i16) -> i16 { v }
    fn echo_u16(v: u16) -> u16 { v }
    fn echo_s32(v: i32) -> i32 { v }
    fn echo_u32(v: u32) -> u32 { v }
    fn echo_s64(v: i64) -> i64 { v }
    fn echo_u64(v: u64) -> u64 { v }
    fn echo_f32(v: f32) -> f32 { v }
    fn echo_f64(v: f64) -> f64 { v }
    fn echo_char(v: char) -> char { v }
    fn echo_string(v: String) -> String { v }
    fn echo_bytes(v: Vec<u8>) -> Vec<u8> { v }
    fn echo_list(v: Vec<i32>) -> Vec<i32> { v }
    fn echo_strings(v: Vec<String>) -> Vec<String> { v }
    fn echo_tuple(v: (String, u8, bool)) -> (String, u8, bool) { v }
    fn echo_record(v: Point) -> Point { v }
    fn echo_variant(v: Shape) -> Shape { v }
    fn echo_enum(v: Color) -> Color { v }
    fn echo_flags(v: Perms) -> Perms { v }
    fn echo_option(v: Option<String>) -> Option<String> { v }
    fn echo_nested_option(v: Option<Option<i32>>) -> Option<Option<i32>> { v }
    fn echo_results(v: Vec<Result<String, u32>>) -> Vec<Result<String, u32>> { v }
    fn echo_unit_result(v: Vec<Result<(), ()>>) -> Vec<Result<(), ()>> { v }
    fn echo_deep(v: Deep) -> Deep { v }
    fn check(v: Result<String, u32>) -> Result<String, u32> { v }
    fn nothing() {}
    fn describe(a: u8, b: String, c: Option<u32>) -> String {
        format!("{a}/{b}/{c:?}")
    }
}

struct MyCounter(u32);

impl GuestCounter for MyCounter {
    fn new(start: u32) -> Self {
        MyCounter(start)
    }
    fn get(&self) -> u32 {
        self.0
    }
}

impl handles::Guest for Types {
    type Counter = MyCounter;
    fn make_counter(start: u32) -> Counter {
        Counter::new(MyCounter(start))
    }
}

export!(Types);
