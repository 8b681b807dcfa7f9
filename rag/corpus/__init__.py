"""Corpora from the open literature: PubMed abstracts and PMC open-access full texts, fetched by
query, PMID, DOI or PMCID through NCBI's E-utilities into files `medrag index` reads."""
from .eutils import EUtils, SearchPage
from .fetch import Batch, FetchReport, fetch_corpus
from .recipe import Recipe, read_ids

__all__ = ["EUtils", "SearchPage", "Recipe", "read_ids", "fetch_corpus", "FetchReport", "Batch"]
