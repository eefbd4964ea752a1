"""Research batch harness: run the engine's command line over grids of knobs and collect metrics."""
