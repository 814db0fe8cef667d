"""Use cases. Each public function takes a session, owns its transaction and returns results;
views, the CLI, TAXII and the jobs all call these, never the models directly for writes."""
