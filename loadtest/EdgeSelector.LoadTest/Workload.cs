using EdgeSelector.Protocol;

namespace EdgeSelector.LoadTest;

/// <summary>What to ask: the request mix, and members and titles drawn from their distributions.</summary>
public sealed class Workload
{
    private static readonly ushort[] Countries = [CountryCode.Pack("US"), CountryCode.Pack("GB"), CountryCode.Pack("FR"), CountryCode.Pack("BR")];
    private readonly Zipf _titles;
    private readonly Zipf _members;
    private readonly int _selectUpTo;
    private readonly int _pageUpTo;
    private readonly int _rewardUpTo;
    private readonly int _total;

    /// <summary>Builds the samplers of <paramref name="options"/>.</summary>
    public Workload(LoadOptions options)
    {
        _titles = new Zipf(options.TitleFirst, options.TitleCount, options.TitleZipf);
        _members = new Zipf(options.MemberFirst, options.MemberCount, options.MemberZipf);
        _selectUpTo = options.MixSelect;
        _pageUpTo = _selectUpTo + options.MixPage;
        _rewardUpTo = _pageUpTo + options.MixReward;
        _total = _rewardUpTo + options.MixPing;
    }

    /// <summary>Draws the kind of the next request by the mix's weights.</summary>
    public Opcode NextKind(ref FastRandom random)
    {
        int r = (int)(random.NextUInt64() % (ulong)_total);
        return r < _selectUpTo ? Opcode.Select : r < _pageUpTo ? Opcode.SelectPage : r < _rewardUpTo ? Opcode.Reward : Opcode.Ping;
    }

    /// <summary>Draws a member id.</summary>
    public long NextMember(ref FastRandom random) => _members.Next(ref random);

    /// <summary>Draws a title id.</summary>
    public long NextTitleId(ref FastRandom random) => _titles.Next(ref random);

    /// <summary>A request context for a drawn member: no genres (the stored profile is used), the server's clock.</summary>
    public RequestContext NextContext(ref FastRandom random)
    {
        ulong bits = random.NextUInt64();
        return new RequestContext
        {
            MemberId = (ulong)_members.Next(ref random),
            Country = Countries[(int)(bits & 3)],
            Language = CountryCode.Pack("EN"),
            Device = (DeviceClass)(1 + (int)((bits >> 8) % 5)),
            HourOfDay = (byte)((bits >> 16) % 24),
            DayOfWeek = (byte)((bits >> 24) % 7),
        };
    }

    /// <summary>A candidate for a drawn title.</summary>
    public TitleCandidate NextTitle(ref FastRandom random) =>
        new((uint)_titles.Next(ref random), (float)random.NextDouble(), (random.NextUInt64() & 7) == 0);
}
