fn main() {
    println!("layerscope");
}
