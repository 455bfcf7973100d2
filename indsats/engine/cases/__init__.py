"""Cases: the use cases that change them (open, advance, note), the views that read them, and who may see them."""
