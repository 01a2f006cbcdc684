/*
 * A test-only stand-in for Windows' bcryptprimitives.dll, for running the
 * Windows build of the lessons under Wine 8 (Debian 12).
 *
 * Rust's std (1.78 and later) gets the random keys of its HashMaps from
 * ProcessPrng() in bcryptprimitives.dll. Wine 8 has no such DLL, so every
 * Rust program fails to start under it, silently (rust-lang/rust#128066).
 * Wine 9.x ships its own; every real Windows (10 and later) has the real one.
 *
 * This file is built by scripts/windows/setup-prefix.sh into the test
 * prefix's system32 only. It is never shipped, and nothing else uses it.
 * ProcessPrng is answered by RtlGenRandom (advapi32's SystemFunction036),
 * which Wine has always had.
 */
#include <windows.h>

/* RtlGenRandom's real name in advapi32; the SDK header hides it behind a
 * macro, so declare it here. */
BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

/* ProcessPrng(buffer, length) fills `length` random bytes and always
 * returns TRUE on Windows; we return FALSE if RtlGenRandom fails. */
BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
