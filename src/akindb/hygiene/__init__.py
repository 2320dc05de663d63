"""Corpus hygiene: ``doctor`` (is the database sound, do the derived files agree with it) and
``dupes`` (exact and near-duplicate documents)."""

from akindb.hygiene.doctor import DoctorReport, Finding, doctor
from akindb.hygiene.dupes import DupeGroup, DupesReport, find_dupes

__all__ = ["DoctorReport", "DupeGroup", "DupesReport", "Finding", "doctor", "find_dupes"]
