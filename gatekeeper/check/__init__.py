"""One call, one recorded answer: the checker and how its answer is written."""
