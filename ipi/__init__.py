"""ipi: watch an Amazon seller's Inventory Performance Index every day."""

__version__ = "0.1.0"
