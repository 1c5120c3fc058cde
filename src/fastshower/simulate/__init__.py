"""Reference simulation: Geant4 showers (calo), production machinery (production)."""
