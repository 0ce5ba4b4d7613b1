//! The local lab. (The process management comes with the Redis source work.)

pub mod console;
