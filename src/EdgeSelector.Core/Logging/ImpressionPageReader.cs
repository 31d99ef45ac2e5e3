using System.Buffers.Binary;
using EdgeSelector.Core.Exploration;
using EdgeSelector.Core.Features;
using static EdgeSelector.Core.Logging.ImpressionPage;

namespace EdgeSelector.Core.Logging;

/// <summary>
/// Reads a page entry (<see cref="ImpressionPage"/>) in place: the member context once, each title's decision by
/// index, or every title as the per-title <see cref="ImpressionRecord"/> view (<c>foreach</c>). No allocation
/// (<c>ImpressionPageTests.WriteAndRead_AllocateNothing</c>).
/// </summary>
public readonly ref struct ImpressionPageReader
{
    private readonly ReadOnlySpan<byte> _entry;
    private readonly int _stride;

    private ImpressionPageReader(ReadOnlySpan<byte> entry, int count, int stride)
    {
        _entry = entry;
        Count = count;
        _stride = stride;
    }

    /// <summary>
    /// Opens a page entry; false when <paramref name="source"/> is not a version-1 page entry of at least one title or
    /// is shorter than its header and titles say (any truncation). A stride longer than <see cref="TitleSize"/> is
    /// accepted (a later layout may append fields to each title); bytes past the last title are ignored.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> source, out ImpressionPageReader page)
    {
        page = default;
        if (source.Length < HeaderSize || source[0] != ImpressionPage.Version || source[1] != (byte)LogRecordKind.ImpressionPage)
        {
            return false;
        }

        int count = BinaryPrimitives.ReadUInt16LittleEndian(source[CountOffset..]);
        int stride = BinaryPrimitives.ReadUInt16LittleEndian(source[StrideOffset..]);
        if (count == 0 || stride < TitleSize || source.Length < HeaderSize + ((long)count * stride))
        {
            return false;
        }

        page = new ImpressionPageReader(source, count, stride);
        return true;
    }

    /// <summary>How many titles the page holds (at least one).</summary>
    public int Count { get; }

    /// <summary>The event id of title 0; title i has <see cref="FirstEventId"/> + i.</summary>
    public ulong FirstEventId => BinaryPrimitives.ReadUInt64LittleEndian(_entry[FirstEventIdOffset..]);

    /// <summary>When the page was decided, Unix milliseconds UTC.</summary>
    public long TimestampMs => BinaryPrimitives.ReadInt64LittleEndian(_entry[TimestampOffset..]);

    /// <summary>The member the page was decided for.</summary>
    public ulong MemberId => BinaryPrimitives.ReadUInt64LittleEndian(_entry[MemberIdOffset..]);

    /// <summary>Which bundle served the page: 0 = the only (or control) bundle, 1 = a candidate.</summary>
    public byte Arm => _entry[ArmOffset];

    /// <summary>Where the member context came from.</summary>
    public MemberFlags Flags => (MemberFlags)_entry[FlagsOffset];

    /// <summary>The event id of title <paramref name="index"/>.</summary>
    public ulong EventId(int index) => FirstEventId + (ulong)(uint)index;

    /// <summary>The member context the page was decided with.</summary>
    public void GetMember(out MemberContext member)
    {
        member = new MemberContext
        {
            MemberId = MemberId,
            Country = BinaryPrimitives.ReadUInt16LittleEndian(_entry[CountryOffset..]),
            Language = BinaryPrimitives.ReadUInt16LittleEndian(_entry[LanguageOffset..]),
            Device = (DeviceClass)_entry[DeviceOffset],
            LocalHour = _entry[HourOffset],
            DayOfWeek = _entry[DayOffset],
        };
        var genres = _entry[GenresOffset..];
        for (var i = 0; i < MemberProfile.GenreCount; i++)
        {
            member.Genres[i] = BinaryPrimitives.ReadSingleLittleEndian(genres[(i * sizeof(float))..]);
        }
    }

    /// <summary>The decision of title <paramref name="index"/> (0 ≤ index &lt; <see cref="Count"/>).</summary>
    public TitleDecision GetTitle(int index)
    {
        if ((uint)index >= (uint)Count)
        {
            throw new ArgumentOutOfRangeException(nameof(index), index, $"the page holds {Count} titles");
        }

        var title = _entry.Slice(HeaderSize + (index * _stride), TitleSize);
        return new TitleDecision
        {
            Propensity = BinaryPrimitives.ReadDoubleLittleEndian(title[PropensityOffset..]),
            ModelVersion = BinaryPrimitives.ReadUInt64LittleEndian(title[ModelVersionOffset..]),
            TitleId = BinaryPrimitives.ReadUInt32LittleEndian(title[TitleIdOffset..]),
            ChosenImageId = BinaryPrimitives.ReadUInt32LittleEndian(title[ImageIdOffset..]),
            PolicyParameter = BinaryPrimitives.ReadSingleLittleEndian(title[PolicyParameterOffset..]),
            RecommenderScore = BinaryPrimitives.ReadSingleLittleEndian(title[ScoreOffset..]),
            ChosenIndex = BinaryPrimitives.ReadUInt16LittleEndian(title[IndexOffset..]),
            CandidateCount = BinaryPrimitives.ReadUInt16LittleEndian(title[CandidatesOffset..]),
            Fallback = (FallbackReason)title[FallbackOffset],
            PolicyKind = (PolicyKind)title[PolicyOffset],
            Interacted = title[InteractedOffset] != 0,
        };
    }

    /// <summary>Title <paramref name="index"/> as the per-title view (the member context copied in).</summary>
    public void GetImpression(int index, out ImpressionRecord record)
    {
        record = Template();
        SetTitle(ref record, index);
    }

    /// <summary>Enumerates the titles as per-title <see cref="ImpressionRecord"/> views, in page order.</summary>
    public Enumerator GetEnumerator() => new(this);

    // The fields every title of the page shares, read once.
    private ImpressionRecord Template()
    {
        GetMember(out var member);
        return new ImpressionRecord
        {
            TimestampMs = TimestampMs,
            MemberId = member.MemberId,
            Country = member.Country,
            Language = member.Language,
            Device = member.Device,
            LocalHour = member.LocalHour,
            DayOfWeek = member.DayOfWeek,
            Genres = member.Genres,
            Arm = Arm,
            MemberFlags = Flags,
        };
    }

    private void SetTitle(ref ImpressionRecord record, int index)
    {
        var title = GetTitle(index);
        record.EventId = EventId(index);
        record.TitleId = title.TitleId;
        record.ChosenImageId = title.ChosenImageId;
        record.ChosenIndex = title.ChosenIndex;
        record.CandidateCount = title.CandidateCount;
        record.Propensity = title.Propensity;
        record.PolicyKind = title.PolicyKind;
        record.PolicyParameter = title.PolicyParameter;
        record.ModelVersion = title.ModelVersion;
        record.Fallback = title.Fallback;
        record.RecommenderScore = title.RecommenderScore;
        record.InteractedBefore = title.Interacted ? (byte)1 : (byte)0;
    }

    /// <summary>Walks a page's titles as per-title views; the member part is decoded once.</summary>
    public ref struct Enumerator
    {
        private readonly ImpressionPageReader _page;
        private ImpressionRecord _current;
        private int _index;

        internal Enumerator(ImpressionPageReader page)
        {
            _page = page;
            _current = page.Template();
            _index = -1;
        }

        /// <summary>The current title's view.</summary>
        public readonly ImpressionRecord Current => _current;

        /// <summary>Moves to the next title.</summary>
        public bool MoveNext()
        {
            if (++_index >= _page.Count)
            {
                return false;
            }

            _page.SetTitle(ref _current, _index);
            return true;
        }
    }
}
