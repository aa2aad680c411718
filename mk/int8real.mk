# tests/tf/test_int8_real.py (grappo int8 against TensorFlow Lite int8 on the real fixtures'
# photographs) runs tests/tool_int8 (grappler+int8's graph whatever its accuracy).
test-tf: $(BUILD)/tests/tool_int8
