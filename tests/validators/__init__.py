"""Independent validators run as tests on the synthesized templates."""
