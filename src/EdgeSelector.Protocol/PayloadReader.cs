using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using MessagePack;

namespace EdgeSelector.Protocol;

/// <summary>
/// Decodes frame payloads into caller-owned structs and spans (docs/protocol.md#payloads). Allocation-free on valid
/// input (proved by <c>AllocationTests</c>); returns an <see cref="ErrorCode"/> instead of throwing on bad input.
/// </summary>
/// <remarks>
/// Every payload is one MessagePack array whose elements sit at fixed positions. Readers take the positions they know,
/// skip extra trailing elements (forward compatibility: a newer peer may append fields) and reject bytes after the
/// array. Integers and floats are accepted in any MessagePack encoding whose value fits.
/// </remarks>
public static partial class PayloadReader
{
    /// <summary>SELECT: <c>[context, title]</c>.</summary>
    public static ErrorCode ReadSelect(in ReadOnlySequence<byte> payload, out RequestContext context, out TitleCandidate title)
    {
        context = default;
        if (payload.IsSingleSegment && TryReadSelectFast(payload.FirstSpan, ref context, out title))
        {
            return ErrorCode.None;
        }

        context = default;
        title = default;
        try
        {
            var reader = new MessagePackReader(payload);
            int count = reader.ReadArrayHeader();
            if (count < 2)
            {
                return ErrorCode.MalformedPayload;
            }

            ErrorCode error = ReadContext(ref reader, ref context);
            if (error != ErrorCode.None)
            {
                return error;
            }

            title = ReadTitle(ref reader);
            return Finish(ref reader, count - 2);
        }
        catch (Exception ex) when (IsMalformed(ex))
        {
            return ErrorCode.MalformedPayload;
        }
    }

    /// <summary>SELECT_PAGE: <c>[context, [title, ...]]</c>; titles go into <paramref name="titles"/>.</summary>
    /// <param name="payload">The frame payload.</param>
    /// <param name="options">Supplies <see cref="ProtocolOptions.MaxTitlesPerPage"/>.</param>
    /// <param name="context">The decoded context.</param>
    /// <param name="titles">Caller-owned space for at least <see cref="ProtocolOptions.MaxTitlesPerPage"/> titles.</param>
    /// <param name="titleCount">How many of <paramref name="titles"/> were filled.</param>
    public static ErrorCode ReadSelectPage(
        in ReadOnlySequence<byte> payload,
        ProtocolOptions options,
        out RequestContext context,
        Span<TitleCandidate> titles,
        out int titleCount)
    {
        if (titles.Length < options.MaxTitlesPerPage)
        {
            ThrowHelper.ThrowScratchTooSmall(nameof(titles), options.MaxTitlesPerPage);
        }

        context = default;
        if (payload.IsSingleSegment && TryReadSelectPageFast(payload.FirstSpan, options.MaxTitlesPerPage, ref context, titles, out titleCount))
        {
            return ErrorCode.None;
        }

        context = default;
        titleCount = 0;
        try
        {
            var reader = new MessagePackReader(payload);
            int count = reader.ReadArrayHeader();
            if (count < 2)
            {
                return ErrorCode.MalformedPayload;
            }

            ErrorCode error = ReadContext(ref reader, ref context);
            if (error != ErrorCode.None)
            {
                return error;
            }

            int n = ReadListHeader(ref reader);
            if (n > options.MaxTitlesPerPage)
            {
                return ErrorCode.TooManyTitles;
            }

            for (int i = 0; i < n; i++)
            {
                titles[i] = ReadTitle(ref reader);
            }

            titleCount = n;
            return Finish(ref reader, count - 2);
        }
        catch (Exception ex) when (IsMalformed(ex))
        {
            titleCount = 0;
            return ErrorCode.MalformedPayload;
        }
    }

    /// <summary>
    /// REWARD: <c>[event_id, play_started, minutes_watched, fraction_completed, timestamp_ms?, event_tag?]</c>; an
    /// absent or nil tag reads as 0 (which the server refuses as unverified).
    /// </summary>
    public static ErrorCode ReadReward(in ReadOnlySequence<byte> payload, out RewardRequest reward)
    {
        reward = default;
        try
        {
            var reader = new MessagePackReader(payload);
            int count = reader.ReadArrayHeader();
            if (count < 4)
            {
                return ErrorCode.MalformedPayload;
            }

            ulong eventId = reader.ReadUInt64();
            bool played = reader.ReadBoolean();
            float minutes = reader.ReadSingle();
            float fraction = reader.ReadSingle();
            if (!RewardRequest.ValuesInRange(minutes, fraction))
            {
                return ErrorCode.InvalidField; // NaN, infinite, negative minutes, a fraction outside [0, 1]
            }

            long timestamp = 0;
            if (count > 4 && !TryReadTimestamp(ref reader, out timestamp))
            {
                return ErrorCode.InvalidField;
            }

            ulong tag = 0;
            if (count > 5 && !reader.TryReadNil())
            {
                tag = reader.ReadUInt64();
            }

            reward = new RewardRequest(eventId, played, minutes, fraction, timestamp, tag);
            return Finish(ref reader, count - Math.Min(count, 6));
        }
        catch (Exception ex) when (IsMalformed(ex))
        {
            return ErrorCode.MalformedPayload;
        }
    }

    /// <summary>PING or PONG: <c>[nonce?]</c>; an absent nonce reads as 0.</summary>
    public static ErrorCode ReadPing(in ReadOnlySequence<byte> payload, out ulong nonce)
    {
        nonce = 0;
        try
        {
            var reader = new MessagePackReader(payload);
            int count = reader.ReadArrayHeader();
            if (count > 0)
            {
                nonce = reader.ReadUInt64();
            }

            return Finish(ref reader, count - Math.Min(count, 1));
        }
        catch (Exception ex) when (IsMalformed(ex))
        {
            return ErrorCode.MalformedPayload;
        }
    }

    /// <summary>
    /// SELECT_RESULT: <c>[title_id, image_id, event_id, propensity, model_version, reason, event_tag?]</c>; a result
    /// without a tag (an older server) reads as tag 0.
    /// </summary>
    public static ErrorCode ReadSelectResult(in ReadOnlySequence<byte> payload, out SelectResult result)
    {
        result = default;
        try
        {
            var reader = new MessagePackReader(payload);
            if (!TryReadResult(ref reader, out result))
            {
                return ErrorCode.MalformedPayload;
            }

            return Finish(ref reader, 0);
        }
        catch (Exception ex) when (IsMalformed(ex))
        {
            return ErrorCode.MalformedPayload;
        }
    }

    /// <summary>SELECT_PAGE_RESULT: <c>[result, ...]</c>; more entries than <paramref name="results"/> holds is malformed.</summary>
    public static ErrorCode ReadSelectPageResult(in ReadOnlySequence<byte> payload, Span<SelectResult> results, out int count)
    {
        count = 0;
        try
        {
            var reader = new MessagePackReader(payload);
            int n = reader.ReadArrayHeader();
            if (n > results.Length)
            {
                return ErrorCode.TooManyTitles;
            }

            for (int i = 0; i < n; i++)
            {
                if (!TryReadResult(ref reader, out results[i]))
                {
                    return ErrorCode.MalformedPayload;
                }
            }

            count = n;
            return Finish(ref reader, 0);
        }
        catch (Exception ex) when (IsMalformed(ex))
        {
            count = 0;
            return ErrorCode.MalformedPayload;
        }
    }

    /// <summary>REWARD_RESULT: <c>[status]</c>.</summary>
    public static ErrorCode ReadRewardResult(in ReadOnlySequence<byte> payload, out RewardStatus status)
    {
        status = default;
        try
        {
            var reader = new MessagePackReader(payload);
            int count = reader.ReadArrayHeader();
            if (count < 1)
            {
                return ErrorCode.MalformedPayload;
            }

            status = (RewardStatus)reader.ReadByte();
            return Finish(ref reader, count - 1);
        }
        catch (Exception ex) when (IsMalformed(ex))
        {
            return ErrorCode.MalformedPayload;
        }
    }

    /// <summary>ERROR: <c>[code, message]</c>; the message is a UTF-8 slice of the payload.</summary>
    public static ErrorCode ReadError(in ReadOnlySequence<byte> payload, out ErrorCode code, out ReadOnlySequence<byte> messageUtf8)
    {
        code = default;
        messageUtf8 = default;
        try
        {
            var reader = new MessagePackReader(payload);
            int count = reader.ReadArrayHeader();
            if (count < 2)
            {
                return ErrorCode.MalformedPayload;
            }

            code = (ErrorCode)reader.ReadUInt16();
            messageUtf8 = reader.ReadStringSequence() ?? default;
            return Finish(ref reader, count - 2);
        }
        catch (Exception ex) when (IsMalformed(ex))
        {
            code = default;
            messageUtf8 = default;
            return ErrorCode.MalformedPayload;
        }
    }

    // context: [member_id, country, language, device, hour, day_of_week, genres?, timestamp_ms?, ...]
    private static ErrorCode ReadContext(ref MessagePackReader reader, ref RequestContext context)
    {
        int count = reader.ReadArrayHeader();
        if (count < 6)
        {
            return ErrorCode.MalformedPayload;
        }

        context.MemberId = reader.ReadUInt64();
        if (!TryReadLocale(ref reader, out context.Country) || !TryReadLocale(ref reader, out context.Language))
        {
            return ErrorCode.InvalidField;
        }

        context.Device = (DeviceClass)reader.ReadByte();
        context.HourOfDay = reader.ReadByte();
        context.DayOfWeek = reader.ReadByte();
        if (context.HourOfDay > 23 || context.DayOfWeek > 6)
        {
            return ErrorCode.InvalidField;
        }

        if (count > 6 && !reader.TryReadNil())
        {
            int genres = ReadListHeader(ref reader);
            if (genres > FeatureSchema.GenreCount)
            {
                return ErrorCode.InvalidField;
            }

            for (int i = 0; i < genres; i++)
            {
                // An affinity is a share in [0, 1]; NaN fails both comparisons and is refused too.
                float affinity = reader.ReadSingle();
                if (!(affinity >= 0f && affinity <= 1f))
                {
                    return ErrorCode.InvalidField;
                }

                context.Genres[i] = affinity;
            }

            context.GenreCount = (byte)genres;
        }

        if (count > 7 && !TryReadTimestamp(ref reader, out context.TimestampUnixMs))
        {
            return ErrorCode.InvalidField;
        }

        SkipElements(ref reader, count - Math.Min(count, 8));
        return ErrorCode.None;
    }

    // title: [title_id, score, interacted, ...]
    private static TitleCandidate ReadTitle(ref MessagePackReader reader)
    {
        int count = reader.ReadArrayHeader();
        if (count < 3)
        {
            ThrowHelper.ThrowMalformed();
        }

        var title = new TitleCandidate(reader.ReadUInt32(), reader.ReadSingle(), reader.ReadBoolean());
        SkipElements(ref reader, count - 3);
        return title;
    }

    // result: [title_id, image_id, event_id, propensity, model_version, reason, event_tag?, ...]
    private static bool TryReadResult(ref MessagePackReader reader, out SelectResult result)
    {
        int count = reader.ReadArrayHeader();
        if (count < 6)
        {
            result = default;
            return false;
        }

        result = new SelectResult(
            reader.ReadUInt32(),
            reader.ReadUInt32(),
            reader.ReadUInt64(),
            reader.ReadSingle(),
            reader.ReadUInt64(),
            (FallbackReason)reader.ReadByte());
        if (count > 6 && !reader.TryReadNil())
        {
            result.EventTag = reader.ReadUInt64();
        }

        SkipElements(ref reader, count - Math.Min(count, 7));
        return true;
    }

    // A country or language: a packed u16 (what our writer sends: 0 or two upper-case ASCII letters) or a two-letter
    // string of either case (friendlier to other clients). Anything else is refused, never taken as "unknown".
    private static bool TryReadLocale(ref MessagePackReader reader, out ushort packed)
    {
        if (reader.NextMessagePackType != MessagePackType.String)
        {
            packed = reader.ReadUInt16();
            return CountryCode.IsValidPacked(packed);
        }

        packed = 0;
        Span<byte> letters = stackalloc byte[2];
        if (reader.TryReadStringSpan(out ReadOnlySpan<byte> span))
        {
            if (span.Length != 2)
            {
                return false;
            }

            span.CopyTo(letters);
        }
        else
        {
            ReadOnlySequence<byte> sequence = reader.ReadStringSequence() ?? default;
            if (sequence.Length != 2)
            {
                return false;
            }

            sequence.CopyTo(letters);
        }

        return CountryCode.TryPack(letters, out packed);
    }

    private static bool TryReadTimestamp(ref MessagePackReader reader, out long timestamp)
    {
        timestamp = reader.TryReadNil() ? 0 : reader.ReadInt64();
        return timestamp >= 0;
    }

    private static ErrorCode Finish(ref MessagePackReader reader, int extraElements)
    {
        SkipElements(ref reader, extraElements);
        return reader.End ? ErrorCode.None : ErrorCode.MalformedPayload;
    }

    /// <summary>Skips <paramref name="count"/> elements without recursion, so deep nesting cannot overflow the stack.</summary>
    private static void SkipElements(ref MessagePackReader reader, long count)
    {
        while (count > 0)
        {
            count--;
            switch (reader.NextMessagePackType)
            {
                case MessagePackType.Array:
                    count += reader.ReadArrayHeader();
                    break;
                case MessagePackType.Map:
                    count += 2L * reader.ReadMapHeader();
                    break;
                default:
                    reader.Skip();
                    break;
            }
        }
    }

    // The exceptions MessagePackReader raises on truncated or mistyped input; anything else is a bug and escapes.
    [MethodImpl(MethodImplOptions.NoInlining)]
    // A list's declared count, for its limit to be checked before its elements are known to be there
    // (docs/protocol.md#which-error-wins): MessagePackReader.ReadArrayHeader would first refuse a count larger than the
    // bytes left, so a page claiming 300 titles with one present would be MalformedPayload, not TooManyTitles. An
    // array32 count above int.MaxValue reads as int.MaxValue (over every limit), not as a negative int.
    private static int ReadListHeader(ref MessagePackReader reader)
    {
        if (reader.NextCode == MessagePackCode.Array32)
        {
            Span<byte> header = stackalloc byte[5];
            reader.ReadRaw(header.Length).CopyTo(header);
            return (int)Math.Min(BinaryPrimitives.ReadUInt32BigEndian(header[1..]), int.MaxValue);
        }

        return reader.TryReadArrayHeader(out int count) ? count : throw new EndOfStreamException();
    }

    private static bool IsMalformed(Exception ex) =>
        ex is MessagePackSerializationException or EndOfStreamException or OverflowException;
}
