<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>
<qgis version="3.28.0" styleCategories="Symbology|Labeling">
  <!-- dgcoverage: $what -->
  <renderer-v2 type="singleSymbol" symbollevels="0" enableorderby="0" forceraster="0">
    <symbols>
      <symbol type="marker" name="0" alpha="1" clip_to_extent="1" force_rhr="0">
        <layer class="SimpleMarker" enabled="1" locked="0" pass="0">
          <Option type="Map">
            <Option type="QString" name="name" value="$shape"/>
            <Option type="QString" name="color" value="$fill"/>
            <Option type="QString" name="outline_color" value="255,255,255,255"/>
            <Option type="QString" name="outline_width" value="0.3"/>
            <Option type="QString" name="size" value="$size"/>
          </Option>
        </layer>
      </symbol>
    </symbols>
  </renderer-v2>
  <labeling type="simple">
    <settings calloutType="simple">
      <text-style fieldName="$label_field" fontSize="7" textColor="0,0,0,255" isExpression="0"/>
      <rendering scaleVisibility="1" scaleMin="1" scaleMax="30000"/>
    </settings>
  </labeling>
  <layerGeometryType>0</layerGeometryType>
</qgis>
