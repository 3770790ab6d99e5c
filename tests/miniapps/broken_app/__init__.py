"""An app with a malformed mini-app manifest: installing it must stop Django from starting."""
