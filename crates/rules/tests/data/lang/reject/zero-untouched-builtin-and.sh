ip6tables -N x && ip6tables --zero OUTPUT
