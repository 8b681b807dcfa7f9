"""medrag: retrieval-augmented summaries of medical literature, every finding cited."""
__version__ = "0.1.0"

from .errors import (FetchError, IndexDamaged, IndexLocked, IndexMismatch, IndexNotFound, IndexOutdated,  # noqa: E402
                     IndexUnavailable, InvalidOption, InvalidQuery, MedragError, MissingDependency, ModelUnavailable,
                     ParseError)
from .library import Library  # noqa: E402
from .pack import Evidence  # noqa: E402
from .records import Chunk, Document, Hit, IndexReport  # noqa: E402
from .results import Hits  # noqa: E402
from .summary import Citation, Finding, Reference, Summary  # noqa: E402
from .verify import Support  # noqa: E402

__all__ = [
    "Library", "Hits", "Hit", "Summary", "Finding", "Citation", "Reference", "Evidence", "Support",
    "Document", "Chunk", "IndexReport",
    "MedragError", "ParseError", "IndexNotFound", "IndexMismatch", "IndexOutdated", "IndexLocked", "IndexDamaged",
    "IndexUnavailable", "InvalidQuery", "InvalidOption", "ModelUnavailable", "MissingDependency", "FetchError", "__version__",
]
