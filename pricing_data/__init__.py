"""The offer catalog: ``load_catalog(as_of, providers, overlay) -> Catalog`` (DESIGN.md)."""

from pricing_data.catalog import Catalog, load_catalog

__all__ = ["Catalog", "load_catalog"]
