"""One module per CLI verb: ``main(args) -> exit code``; thin wrappers over the library."""
