"""All SQL lives here, one module per concept, so another store can be added behind the same functions."""
