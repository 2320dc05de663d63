"""akindb.cli"""
