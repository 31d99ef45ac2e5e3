using EdgeSelector.Core.Features;

namespace EdgeSelector.Storage.Tests;

/// <summary>A batch of members <c>first..first+count-1</c>, each profile's country set to its member id (readable back).</summary>
internal static class NumberedProfiles
{
    public static (ulong[] Ids, MemberProfile[] Profiles) Batch(int first, int count)
    {
        var ids = new ulong[count];
        var profiles = new MemberProfile[count];
        for (int i = 0; i < count; i++)
        {
            ids[i] = (ulong)(first + i);
            profiles[i] = new MemberProfile { Country = (ushort)(first + i) };
        }

        return (ids, profiles);
    }
}
