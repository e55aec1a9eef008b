"""The fake Salesforce org: sObject catalogue, SOQL engine, records and REST server."""
