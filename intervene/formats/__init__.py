"""The files users write and read (../shared/spec/formats.md): read and write them, nothing else."""
