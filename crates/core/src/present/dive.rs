//! dive's JSON export (filled in by a later commit).
