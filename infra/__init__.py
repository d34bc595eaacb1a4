"""Where sites come from: the local platform, docker, and the Kubernetes path."""
