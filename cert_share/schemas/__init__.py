"""marshmallow schemas, one module per resource. Schemas validate and shape; they never query."""
