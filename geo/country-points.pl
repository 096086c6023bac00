# country-points.pl - one representative point per country from tzdata's zone.tab, shared by
# geo/build-world (the location in geo/world.mmdb) and geo/build-countries (the table compiled
# into the daemons for databases without locations).
#
# This file is the only place the choice is made: a country's point is the zone.tab row named
# in %ZONE_FOR, else the country's first row. Both builders take it from here so that a country
# stands at the same place whichever database the daemon loads. The same holds for a country's
# continent (from CLDR's territory containment): the world database stores it, and the daemons
# give it to records that name only a country (ip-location-db's flat layout). It reads zone.tab
# and CLDR only; it does not round coordinates or write any output (the builders do that, both
# to four decimals).
#
# It also reads CLDR's English country names, which geo/build-world stores and
# geo/build-countries --tsv lists for geo/mkworld.
# It needs nothing beyond core Perl, so building the C table does not need the mmdb writer.
# Loaded with `require`; it defines package GslbCountryPoints and returns true.

package GslbCountryPoints;

use strict;
use warnings;

use File::Basename qw(basename);

# Where Debian's tzdata package installs zone.tab.
sub default_zone_tab { return '/usr/share/zoneinfo/zone.tab' }

# Where Debian's unicode-cldr-core package installs CLDR's supplemental data.
sub default_cldr_supplemental {
    return '/usr/share/unicode/cldr/common/supplemental/supplementalData.xml';
}

# zone.tab lists a country's zones in an order that "makes some geographical sense" first and
# puts populous zones early only where that does not contradict it. For most countries the
# first row is the capital or largest city; for these it is a far corner of the country
# (Lord Howe Island, Fernando de Noronha, Kaliningrad, Crimea, ...), so name the zone whose
# city stands for the country instead. geo/README-data.md lists the first row each replaces.
my %ZONE_FOR = (
    AU => 'Australia/Sydney',
    BR => 'America/Sao_Paulo',
    CA => 'America/Toronto',
    FM => 'Pacific/Pohnpei',
    RU => 'Europe/Moscow',
    UA => 'Europe/Kyiv',
    UZ => 'Asia/Tashkent',
);

# Returns { country code => zone name } for the countries whose point is not their first row:
# %ZONE_FOR, with OVERRIDE (from a builder's --zone options, may be undef) taking precedence.
# The caller owns the returned hash.
sub zone_for {
    my ($override) = @_;
    return { %ZONE_FOR, %{ $override // {} } };
}

# Returns { country code => [latitude, longitude] } in degrees (north and east positive, not
# rounded): the row named in ZONE_FOR (a hash from zone_for()), else the country's first row in
# zone.tab at PATH. A named zone that PATH lacks gives a warning and the first row. Dies with a
# message naming PATH (and the line) if the file cannot be read or a row is malformed.
sub read_zone_tab {
    my ( $path, $zone_for ) = @_;
    my $prog = basename($0);
    open my $fh, '<:encoding(UTF-8)', $path or die "$prog: $path: $!\n";
    my ( %first, %chosen );
    while ( my $line = <$fh> ) {
        next if $line =~ /^\s*(#|$)/;
        chomp $line;
        my ( $cc, $coord, $tz ) = split /\t/, $line;
        my $point = parse_iso6709( $coord // '' );
        die "$prog: $path:$.: error: cannot read coordinates '", $coord // '', "'\n"
            unless $cc && $cc =~ /^[A-Z]{2}$/ && $point && $tz;
        $first{$cc} //= $point;
        $chosen{$cc} = $point if ( $zone_for->{$cc} // '' ) eq $tz;
    }
    close $fh;
    die "$prog: $path: no zones found\n" unless %first;
    for my $cc ( sort keys %{$zone_for} ) {
        next if $chosen{$cc} || !$first{$cc};
        warn "$prog: warning: $path has no zone $zone_for->{$cc} for $cc; using its first row\n";
    }
    return { %first, %chosen };
}

# ISO 6709 as zone.tab writes it: +DDMM+DDDMM or +DDMMSS+DDDMMSS. Returns [lat, lon] or an
# empty list if S is not in that form.
sub parse_iso6709 {
    my ($s) = @_;
    my @f = $s =~ /^([+-])(\d\d)(\d\d)(\d\d)?([+-])(\d\d\d)(\d\d)(\d\d)?$/ or return;
    my $lat = ( $f[1] + $f[2] / 60 + ( $f[3] // 0 ) / 3600 ) * ( $f[0] eq '-' ? -1 : 1 );
    my $lon = ( $f[5] + $f[6] / 60 + ( $f[7] // 0 ) / 3600 ) * ( $f[4] eq '-' ? -1 : 1 );
    return [ $lat, $lon ];
}

# Where Debian's unicode-cldr-core package installs CLDR's English names.
sub default_cldr_en { return '/usr/share/unicode/cldr/common/main/en.xml' }

# Returns { territory code => English name } from CLDR's main/en.xml at PATH, taking the plain
# name rather than the "short" or "variant" alternatives (United Kingdom, not UK).
sub read_cldr_names {
    my ($path) = @_;
    open my $fh, '<:encoding(UTF-8)', $path or die basename($0) . ": $path: $!\n";
    my $text = do { local $/; <$fh> };
    close $fh;
    my ($block) = $text =~ m{<territories>(.*?)</territories>}s
        or die basename($0) . ": $path: no <territories> element\n";
    my %name;
    while ( $block =~ m{<territory\s+type="([A-Z]{2})"\s*>([^<]*)</territory>}g ) {
        $name{$1} = xml_text($2);
    }
    return \%name;
}

sub xml_text {
    my ($s) = @_;
    my %entity = ( amp => '&', lt => '<', gt => '>', quot => '"', apos => "'" );
    $s =~ s{&(?:#x([0-9a-fA-F]+)|#([0-9]+)|(\w+));}
           { defined $1 ? chr hex $1 : defined $2 ? chr $2 : $entity{$3} // "&$3;" }ge;
    return $s;
}

# UN M.49 continental groups (as used by CLDR) to MaxMind continent codes. MaxMind's North
# America includes Central America and the Caribbean.
my %CONTINENT_OF_M49 = (
    '002' => 'AF',
    '005' => 'SA',
    '009' => 'OC',
    '013' => 'NA',
    '021' => 'NA',
    '029' => 'NA',
    '142' => 'AS',
    '150' => 'EU',
);

# Where MaxMind and DB-IP records (which follow GeoNames) put a territory on another continent
# than UN M.49 does. Following them keeps continent rules meaning the same with every database.
my %CONTINENT_OVERRIDE = (
    AQ => 'AN', BV => 'AN', GS => 'AN', HM => 'AN', TF => 'AN',    # M.49: OC SA SA OC AF
    CY => 'EU',                                                     # M.49: Western Asia
    CC => 'AS', CX => 'AS', IO => 'AS',                             # M.49: OC OC AF
    TL => 'OC',                                                     # M.49: South-eastern Asia
);

# Returns { territory code => [MaxMind continent code, retired?] } from CLDR's
# territoryContainment, with CONTINENT_OVERRIDE applied. "grouping" groups (European Union,
# Eurozone, United Nations, Latin America, ...) overlap the continents and are ignored.
# Deprecated groups are kept, so a retired code such as AN (Netherlands Antilles) still has a
# continent; such codes are flagged as retired.
sub read_cldr_continents {
    my ($path) = @_;
    open my $fh, '<:encoding(UTF-8)', $path or die basename($0) . ": $path: $!\n";
    my $text = do { local $/; <$fh> };
    close $fh;
    my ($block) = $text =~ m{<territoryContainment>(.*?)</territoryContainment>}s
        or die basename($0) . ": $path: no <territoryContainment> element\n";

    my ( %parent, %current, %retired );
    while ( $block =~ m{<group\s+([^>]*?)/?>}g ) {
        my %attr = $1 =~ /(\w+)="([^"]*)"/g;
        next if ( $attr{grouping} // '' ) eq 'true' || ( $attr{status} // '' ) eq 'grouping';
        my $deprecated = ( $attr{status} // '' ) eq 'deprecated';
        for my $child ( split ' ', $attr{contains} // '' ) {
            $parent{$child} //= $attr{type};
            ( $deprecated ? \%retired : \%current )->{$child} = 1;
        }
    }

    my %continent;
    for my $code ( grep {/^[A-Z]{2}$/} keys %parent ) {
        my $group = $parent{$code};
        $group = $parent{$group} while defined $group && !$CONTINENT_OF_M49{$group};
        next unless defined $group;
        $continent{$code} = $CONTINENT_OVERRIDE{$code} // $CONTINENT_OF_M49{$group};
    }
    die basename($0)
        . ": $path: no territory reaches a continent; is this CLDR supplementalData.xml?\n"
        unless %continent;
    delete @retired{ keys %current };
    return { map { $_ => [ $continent{$_}, $retired{$_} ? 1 : 0 ] } keys %continent };
}

1;
