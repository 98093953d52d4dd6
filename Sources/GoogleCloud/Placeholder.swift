// GoogleCloud module.
