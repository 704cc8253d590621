"""Answers to access questions, from the declarations, offline: explain, who-can."""
