// The libraries the planner's map uses, as the globals `maplibregl` and `deckgl` (bundled by
// build.mjs; the page's own code is reports/assets/map.js, kept apart so it reads as written).
import * as maplibregl from 'maplibre-gl';
import {MapboxOverlay} from '@deck.gl/mapbox';
// The trips layer alone: the package's index would bring every geo layer and its loaders.
import TripsLayer from './node_modules/@deck.gl/geo-layers/dist/trips-layer/trips-layer.js';
import {ScatterplotLayer} from '@deck.gl/layers';

globalThis.maplibregl = maplibregl;
globalThis.deckgl = {MapboxOverlay, TripsLayer, ScatterplotLayer};
