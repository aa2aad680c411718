/* dtype.c - dtype properties and float16 / bfloat16 conversions. */
#include "dtype.h"

#include <string.h>

bool dtype_is_supported(int dt) {
    switch (dt) {
    case DT_FLOAT: case DT_DOUBLE: case DT_HALF: case DT_BFLOAT16: case DT_INT8: case DT_UINT8:
    case DT_INT32: case DT_INT64: case DT_BOOL:
        return true;
    default:
        return false;
    }
}

int dtype_as_computed(int dt) { return dt == DT_VARIANT ? DT_INT32 : dt; }

bool dtype_is_float(int dt) { return dt == DT_FLOAT || dt == DT_DOUBLE || dt == DT_HALF || dt == DT_BFLOAT16; }

size_t dtype_size(int dt) {
    switch (dt) {
    case DT_FLOAT: case DT_INT32: return 4;
    case DT_HALF: case DT_BFLOAT16: return 2;
    case DT_INT8: case DT_UINT8: case DT_BOOL: return 1;
    case DT_INT64: case DT_DOUBLE: return 8;
    default: return 0;
    }
}

static const struct { int dt; const char *name; const char *tf; } names[] = {
    {DT_FLOAT, "float32", "DT_FLOAT"},   {DT_DOUBLE, "float64", "DT_DOUBLE"},
    {DT_INT32, "int32", "DT_INT32"},     {DT_UINT8, "uint8", "DT_UINT8"},
    {DT_INT16, "int16", "DT_INT16"},     {DT_INT8, "int8", "DT_INT8"},
    {DT_STRING, "string", "DT_STRING"},  {DT_INT64, "int64", "DT_INT64"},
    {DT_BOOL, "bool", "DT_BOOL"},        {DT_BFLOAT16, "bfloat16", "DT_BFLOAT16"},
    {DT_HALF, "float16", "DT_HALF"},
};

const char *dtype_name(int dt) {
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].dt == dt) return names[i].name;
    return dt == DT_INVALID ? "invalid" : "opaque";
}

int dtype_from_name(const char *name) {
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(names[i].name, name) || !strcmp(names[i].tf, name)) return names[i].dt;
    if (!strcmp(name, "float") || !strcmp(name, "f32")) return DT_FLOAT;
    return DT_INVALID;
}

static uint32_t f2u(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float u2f(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
    if (exp == 0) {
        if (mant == 0) return u2f(sign);
        /* subnormal: value = mant * 2^-24 */
        float v = (float)mant * (1.0f / 16777216.0f);
        return sign ? -v : v;
    }
    if (exp == 31) return u2f(sign | 0x7f800000u | (mant << 13));
    return u2f(sign | ((exp + 112) << 23) | (mant << 13));
}

uint16_t float_to_half(float f) {
    uint32_t u = f2u(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
    uint32_t absu = u & 0x7fffffffu;
    if (absu >= 0x7f800000u) /* inf or nan */
        return sign | 0x7c00 | (absu > 0x7f800000u ? 0x200 : 0);
    if (absu >= 0x477ff000u) return sign | 0x7c00; /* rounds to >= 65520: overflow to inf */
    if (absu < 0x38800000u) {                       /* below the smallest normal half 2^-14 */
        /* subnormal half: round(|f| * 2^24) with ties to even */
        float a = u2f(absu) * 16777216.0f;
        uint32_t m = (uint32_t)a;
        float rem = a - (float)m;
        if (rem > 0.5f || (rem == 0.5f && (m & 1))) m++;
        return sign | (uint16_t)m;
    }
    uint32_t mant = absu & 0x7fffff, exp = (absu >> 23) - 112;
    uint32_t h = (exp << 10) | (mant >> 13);
    uint32_t rest = mant & 0x1fff;
    if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) h++; /* carry may roll into exponent: fine */
    return sign | (uint16_t)h;
}

float bfloat16_to_float(uint16_t b) { return u2f((uint32_t)b << 16); }

uint16_t float_to_bfloat16(float f) {
    uint32_t u = f2u(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
    uint32_t lsb = (u >> 16) & 1;
    u += 0x7fff + lsb;
    return (uint16_t)(u >> 16);
}
