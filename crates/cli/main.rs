//! The `palisade` command line.

fn main() {
    println!("palisade");
}
