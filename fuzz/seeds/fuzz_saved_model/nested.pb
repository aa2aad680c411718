Î
"serveŽ

xPlaceholder*
dtype0
.
callStatefulPartitionedCallx*

fR
f¼
‹

f
a
out0	
cga*
pPartitionedCallc:out1:0*

fR
h+
addAddV2c:out0:0
p:output:0*
T0"
out0add:z:0
o

g
a
out0
out1
sSigmoida*
T0
tTanha*
T0"
out0s:y:0"
out1t:y:0
;

h
a
out0
nNega*
T0"
out0n:y:0*2
serving_default

x
x:0
y

call:0