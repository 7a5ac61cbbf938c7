ip6tables -N x; ip6tables -Z OUTPUT
