"""The exceptions medrag raises. The CLI turns each into one line on stderr."""


class MedragError(Exception):
    """Base of every error medrag raises on purpose."""


class ParseError(MedragError):
    """A file or record could not be read as the format it claims to be."""

    def __init__(self, path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class IndexNotFound(MedragError):
    """No index exists at the given folder."""


class IndexMismatch(MedragError):
    """The index was built with another embedder or a format this version cannot read."""


class IndexOutdated(IndexMismatch):
    """The index was written in an older format; `medrag upgrade` brings it up to date in place."""


class IndexDamaged(MedragError):
    """A file of the index is missing or cannot be read; the message names it."""


class IndexUnavailable(MedragError):
    """The index's database cannot be opened (a read-only folder, a full disk); nothing is wrong with it."""


class InvalidOption(MedragError, ValueError):
    """An option's value cannot be used (a negative size, an unknown device or dtype)."""


class IndexLocked(MedragError):
    """Another process is writing to the index."""


class InvalidQuery(MedragError):
    """The query or one of its options cannot be searched."""


class ModelUnavailable(MedragError):
    """A model could not be loaded; the message says why and what to do."""


class MissingDependency(MedragError):
    """An optional package is needed for this feature."""


class FetchError(MedragError):
    """Literature could not be fetched: the service kept failing, refused the request, or the
    recipe or output folder cannot be used."""


class ServerError(MedragError):
    """A medrag server (`--server`, MEDRAG_SERVER) could not be reached or refused the request."""
