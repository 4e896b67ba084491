module leaklab/labs

go 1.24
