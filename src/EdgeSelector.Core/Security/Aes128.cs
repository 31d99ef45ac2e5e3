using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using X86Aes = System.Runtime.Intrinsics.X86.Aes;

namespace EdgeSelector.Core.Security;

/// <summary>
/// AES-128 encryption of single blocks under one expanded key (FIPS-197), for a keyed PRF: the AES-NI instructions
/// where the CPU has them, else a portable table-driven implementation that gives the same output (<c>PrfTests</c>
/// check both against the FIPS-197 vector and .NET's AES). The portable path looks bytes up in tables, so its timing
/// depends on the data; it is the fallback for CPUs without AES-NI, not the expected path (costs in
/// docs/protocol.md, "Event ids and tags").
/// </summary>
public sealed class Aes128
{
    private const int Rounds = 10;
    private static readonly byte[] SBox = BuildSBox();
    private static readonly uint[] Te0 = BuildTable(0);
    private static readonly uint[] Te1 = BuildTable(8);
    private static readonly uint[] Te2 = BuildTable(16);
    private static readonly uint[] Te3 = BuildTable(24);

    // The expanded key as 44 big-endian words (portable path) and as 11 vectors, one field each, so the unrolled
    // AES-NI path reads them with no bounds checks.
    private readonly uint[] _w = new uint[4 * (Rounds + 1)];
    private readonly Vector128<byte> _k0, _k1, _k2, _k3, _k4, _k5, _k6, _k7, _k8, _k9, _k10;

    /// <summary>Expands a 16-byte key.</summary>
    public Aes128(ReadOnlySpan<byte> key)
    {
        ArgumentOutOfRangeException.ThrowIfNotEqual(key.Length, 16, nameof(key));
        Span<byte> k = stackalloc byte[16 * (Rounds + 1)];
        ExpandKey(key, k);
        for (var i = 0; i < _w.Length; i++)
        {
            _w[i] = BinaryPrimitives.ReadUInt32BigEndian(k[(4 * i)..]);
        }

        _k0 = Vector128.Create((ReadOnlySpan<byte>)k[..16]);
        _k1 = Vector128.Create((ReadOnlySpan<byte>)k[16..]);
        _k2 = Vector128.Create((ReadOnlySpan<byte>)k[32..]);
        _k3 = Vector128.Create((ReadOnlySpan<byte>)k[48..]);
        _k4 = Vector128.Create((ReadOnlySpan<byte>)k[64..]);
        _k5 = Vector128.Create((ReadOnlySpan<byte>)k[80..]);
        _k6 = Vector128.Create((ReadOnlySpan<byte>)k[96..]);
        _k7 = Vector128.Create((ReadOnlySpan<byte>)k[112..]);
        _k8 = Vector128.Create((ReadOnlySpan<byte>)k[128..]);
        _k9 = Vector128.Create((ReadOnlySpan<byte>)k[144..]);
        _k10 = Vector128.Create((ReadOnlySpan<byte>)k[160..]);
    }

    /// <summary>Whether <see cref="Encrypt(ulong, ulong)"/> runs on AES-NI.</summary>
    public static bool IsHardwareAccelerated => X86Aes.IsSupported;

    /// <summary>
    /// Encrypts the block whose bytes are <paramref name="low"/> then <paramref name="high"/>, little-endian; returns
    /// the first 8 bytes of the ciphertext as a little-endian word.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong Encrypt(ulong low, ulong high) =>
        X86Aes.IsSupported ? EncryptAesNi(low, high) : EncryptPortable(low, high);

    /// <summary>The portable path of <see cref="Encrypt(ulong, ulong)"/>, whatever the CPU (tests compare the two).</summary>
    public ulong EncryptPortable(ulong low, ulong high)
    {
        // The block's four columns as big-endian words (FIPS-197's byte order).
        uint s0 = BinaryPrimitives.ReverseEndianness((uint)low);
        uint s1 = BinaryPrimitives.ReverseEndianness((uint)(low >> 32));
        uint s2 = BinaryPrimitives.ReverseEndianness((uint)high);
        uint s3 = BinaryPrimitives.ReverseEndianness((uint)(high >> 32));
        EncryptWords(ref s0, ref s1, ref s2, ref s3);
        return BinaryPrimitives.ReverseEndianness(s0) | ((ulong)BinaryPrimitives.ReverseEndianness(s1) << 32);
    }

    /// <summary>Encrypts a 16-byte block in place on the portable path.</summary>
    public void EncryptBlockPortable(Span<byte> block)
    {
        ArgumentOutOfRangeException.ThrowIfNotEqual(block.Length, 16, nameof(block));
        uint s0 = BinaryPrimitives.ReadUInt32BigEndian(block);
        uint s1 = BinaryPrimitives.ReadUInt32BigEndian(block[4..]);
        uint s2 = BinaryPrimitives.ReadUInt32BigEndian(block[8..]);
        uint s3 = BinaryPrimitives.ReadUInt32BigEndian(block[12..]);
        EncryptWords(ref s0, ref s1, ref s2, ref s3);
        BinaryPrimitives.WriteUInt32BigEndian(block, s0);
        BinaryPrimitives.WriteUInt32BigEndian(block[4..], s1);
        BinaryPrimitives.WriteUInt32BigEndian(block[8..], s2);
        BinaryPrimitives.WriteUInt32BigEndian(block[12..], s3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong EncryptAesNi(ulong low, ulong high)
    {
        var state = Vector128.Create(low, high).AsByte() ^ _k0;
        state = X86Aes.Encrypt(state, _k1);
        state = X86Aes.Encrypt(state, _k2);
        state = X86Aes.Encrypt(state, _k3);
        state = X86Aes.Encrypt(state, _k4);
        state = X86Aes.Encrypt(state, _k5);
        state = X86Aes.Encrypt(state, _k6);
        state = X86Aes.Encrypt(state, _k7);
        state = X86Aes.Encrypt(state, _k8);
        state = X86Aes.Encrypt(state, _k9);
        return X86Aes.EncryptLast(state, _k10).AsUInt64().ToScalar();
    }

    private void EncryptWords(ref uint s0, ref uint s1, ref uint s2, ref uint s3)
    {
        var w = _w;
        var te0 = Te0;
        var te1 = Te1;
        var te2 = Te2;
        var te3 = Te3;
        s0 ^= w[0];
        s1 ^= w[1];
        s2 ^= w[2];
        s3 ^= w[3];
        for (var k = 4; k < 4 * Rounds; k += 4)
        {
            // SubBytes, ShiftRows and MixColumns by table: column c takes row r from column c + r.
            uint t0 = te0[(byte)(s0 >> 24)] ^ te1[(byte)(s1 >> 16)] ^ te2[(byte)(s2 >> 8)] ^ te3[(byte)s3] ^ w[k];
            uint t1 = te0[(byte)(s1 >> 24)] ^ te1[(byte)(s2 >> 16)] ^ te2[(byte)(s3 >> 8)] ^ te3[(byte)s0] ^ w[k + 1];
            uint t2 = te0[(byte)(s2 >> 24)] ^ te1[(byte)(s3 >> 16)] ^ te2[(byte)(s0 >> 8)] ^ te3[(byte)s1] ^ w[k + 2];
            uint t3 = te0[(byte)(s3 >> 24)] ^ te1[(byte)(s0 >> 16)] ^ te2[(byte)(s1 >> 8)] ^ te3[(byte)s2] ^ w[k + 3];
            (s0, s1, s2, s3) = (t0, t1, t2, t3);
        }

        // The last round has no MixColumns: SubBytes and ShiftRows by the S-box alone.
        var box = SBox;
        var last = 4 * Rounds;
        uint o0 = Last(box, s0, s1, s2, s3) ^ w[last];
        uint o1 = Last(box, s1, s2, s3, s0) ^ w[last + 1];
        uint o2 = Last(box, s2, s3, s0, s1) ^ w[last + 2];
        uint o3 = Last(box, s3, s0, s1, s2) ^ w[last + 3];
        (s0, s1, s2, s3) = (o0, o1, o2, o3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Last(byte[] box, uint a, uint b, uint c, uint d) =>
        ((uint)box[(byte)(a >> 24)] << 24) | ((uint)box[(byte)(b >> 16)] << 16) | ((uint)box[(byte)(c >> 8)] << 8) | box[(byte)d];

    private static void ExpandKey(ReadOnlySpan<byte> key, Span<byte> roundKeys)
    {
        key.CopyTo(roundKeys);
        byte rcon = 1;
        for (var i = 16; i < roundKeys.Length; i += 4)
        {
            byte t0 = roundKeys[i - 4], t1 = roundKeys[i - 3], t2 = roundKeys[i - 2], t3 = roundKeys[i - 1];
            if (i % 16 == 0)
            {
                // RotWord, SubWord, and the round constant.
                (t0, t1, t2, t3) = ((byte)(SBox[t1] ^ rcon), SBox[t2], SBox[t3], SBox[t0]);
                rcon = Times2(rcon);
            }

            roundKeys[i] = (byte)(roundKeys[i - 16] ^ t0);
            roundKeys[i + 1] = (byte)(roundKeys[i - 15] ^ t1);
            roundKeys[i + 2] = (byte)(roundKeys[i - 14] ^ t2);
            roundKeys[i + 3] = (byte)(roundKeys[i - 13] ^ t3);
        }
    }

    // Multiplication by x in GF(2^8) modulo x^8 + x^4 + x^3 + x + 1.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static byte Times2(byte a) => (byte)((a << 1) ^ ((a >> 7) * 0x1B));

    // The S-box from its definition (the multiplicative inverse in GF(2^8), then the affine map), rather than 256
    // typed constants: p walks the field multiplying by 3, q dividing by 3, so q is always p's inverse.
    private static byte[] BuildSBox()
    {
        var box = new byte[256];
        byte p = 1, q = 1;
        do
        {
            p = (byte)(p ^ Times2(p));
            q ^= (byte)(q << 1);
            q ^= (byte)(q << 2);
            q ^= (byte)(q << 4);
            if ((q & 0x80) != 0)
            {
                q ^= 0x09;
            }

            int x = q ^ Rotl(q, 1) ^ Rotl(q, 2) ^ Rotl(q, 3) ^ Rotl(q, 4);
            box[p] = (byte)(x ^ 0x63);
        }
        while (p != 1);

        box[0] = 0x63;
        return box;
    }

    // Te0[x] is the column MixColumns makes of S[x] in row 0: (2·S, S, S, 3·S) big-endian; Te1-3 are its rotations
    // for rows 1-3.
    private static uint[] BuildTable(int rotation)
    {
        var box = BuildSBox();
        var table = new uint[256];
        for (var x = 0; x < 256; x++)
        {
            byte s = box[x];
            byte s2 = Times2(s);
            uint column = ((uint)s2 << 24) | ((uint)s << 16) | ((uint)s << 8) | (byte)(s2 ^ s);
            table[x] = BitOperations.RotateRight(column, rotation);
        }

        return table;
    }

    private static byte Rotl(byte value, int shift) => (byte)((value << shift) | (value >> (8 - shift)));
}
