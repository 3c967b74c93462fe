module onprem-wandb.lab/images

go 1.24
