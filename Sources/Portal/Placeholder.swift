// Portal module.
