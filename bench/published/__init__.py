"""Published numbers: the one validated table, the released training logs, curves as references."""
