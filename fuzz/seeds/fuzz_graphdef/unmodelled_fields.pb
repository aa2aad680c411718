

bIdentitya*
T0
A
aPlaceholder*
dtype02
original_node_name:é˜•
some_function"Ò	 M