"""Physics observables of showers and jets, as pure functions of arrays."""
