Ù
"serve™

xPlaceholder*
dtype0
.
callStatefulPartitionedCallx*

fR
fH
F

f
a
out0
rRelua*
T0"
out0r:activations:0*2
serving_default

x
x:0
y

call:0