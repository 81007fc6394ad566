//! Entry points for fuzz targets and their seed-corpus tests. Not a stable API.
