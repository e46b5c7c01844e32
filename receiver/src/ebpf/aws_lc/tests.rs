//! The finder on the rustls test clients (ground truth from their symbols),
//! on files without aws-lc, and on mutated copies it must refuse.

use super::*;
