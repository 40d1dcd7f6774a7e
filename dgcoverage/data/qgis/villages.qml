<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>
<qgis version="3.28.0" styleCategories="Symbology|Labeling|Fields">
  <!-- dgcoverage: villages (村/社区) by covered share, the classes and colours of the map pages (ColorBrewer YlGnBu).
       The top class is the circle's 达标 rule. Shares are stored cut to 6 decimals, so each class ends one
       millionth below the next break and no value falls between classes. -->
  <renderer-v2 type="graduatedSymbol" attr="$field" graduatedMethod="GraduatedColor" symbollevels="0" enableorderby="0" forceraster="0">
    <ranges>
$ranges
    </ranges>
    <symbols>
$symbols
    </symbols>
    <source-symbol>
      <symbol type="fill" name="0" alpha="1" clip_to_extent="1" force_rhr="0">
        <layer class="SimpleFill" enabled="1" locked="0" pass="0">
          <Option type="Map">
            <Option type="QString" name="color" value="255,255,204,255"/>
            <Option type="QString" name="outline_color" value="120,120,120,255"/>
            <Option type="QString" name="outline_width" value="0.15"/>
            <Option type="QString" name="style" value="solid"/>
          </Option>
        </layer>
      </symbol>
    </source-symbol>
  </renderer-v2>
  <labeling type="simple">
    <settings calloutType="simple">
      <text-style fieldName="$label_field" fontSize="7" textColor="50,50,50,255" isExpression="0"/>
      <placement placement="1"/>
      <rendering scaleVisibility="1" scaleMin="1" scaleMax="60000"/>
    </settings>
  </labeling>
  <layerGeometryType>2</layerGeometryType>
</qgis>
