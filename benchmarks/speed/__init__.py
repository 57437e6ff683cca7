"""Speed: training and scoring against plain PyTorch and PyOD, threads, 3-D input,
the cost of training to convergence."""
