"""medrag: retrieval-augmented summaries of medical literature, every finding cited."""
__version__ = "0.1.0"

from .errors import (IndexLocked, IndexMismatch, IndexNotFound, InvalidQuery, MedragError,  # noqa: E402
                     MissingDependency, ModelUnavailable, ParseError)
from .library import Library  # noqa: E402
from .records import Chunk, Document, Hit, IndexReport  # noqa: E402

__all__ = [
    "Library", "Document", "Chunk", "Hit", "IndexReport",
    "MedragError", "ParseError", "IndexNotFound", "IndexMismatch", "IndexLocked", "InvalidQuery",
    "ModelUnavailable", "MissingDependency", "__version__",
]
