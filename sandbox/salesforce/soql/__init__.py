"""SOQL for the fake Salesforce: parse, bind against the catalogue, execute over rows.

``parse`` checks syntax only; ``bind`` resolves names and value types (so a bad query
fails before any row is read, as in Salesforce); ``execute`` filters, sorts, windows and
shapes records exactly like the REST API's ``query`` resource.
"""

from sandbox.salesforce.soql.access import RowSource
from sandbox.salesforce.soql.binder import BoundField, BoundQuery, bind
from sandbox.salesforce.soql.errors import SoqlError
from sandbox.salesforce.soql.executor import QueryResult, execute
from sandbox.salesforce.soql.nodes import Query
from sandbox.salesforce.soql.parser import parse

__all__ = [
    "BoundField",
    "BoundQuery",
    "Query",
    "QueryResult",
    "RowSource",
    "SoqlError",
    "bind",
    "execute",
    "parse",
]
